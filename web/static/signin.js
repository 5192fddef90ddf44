// Sign-in form: POST the name and password as JSON to /api/v1/session, then open the
// dashboard. The session cookie is HttpOnly: this script never sees it.
const form = document.getElementById("signin");
const error = document.getElementById("signin-error");
const nameInput = document.getElementById("name");
const passwordInput = document.getElementById("password");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const response = await fetch("/api/v1/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ name: nameInput.value, password: passwordInput.value }),
    });
    if (response.ok) {
      window.location.assign("/");
      return;
    }
    const body = await response.json().catch(() => ({}));
    error.textContent = body.error || `sign-in failed (${response.status})`;
  } catch (failure) {
    error.textContent = "the box did not answer: check the connection";
  } finally {
    passwordInput.value = "";
    button.disabled = false;
  }
});
