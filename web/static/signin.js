// Sign-in form: POST the name and password as JSON to /api/v1/session, then open the
// dashboard. The session cookie is HttpOnly: this script never sees it.
const form = document.getElementById("signin");
const error = document.getElementById("signin-error");
const nameInput = document.getElementById("name");
const passwordInput = document.getElementById("password");
// Always shown, never asked for after the fact: the server answers every failure alike,
// so a page cannot learn from it that a passphrase was right but the code missing.
const otpInput = document.getElementById("otp");

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
      body: JSON.stringify({
        name: nameInput.value,
        password: passwordInput.value,
        ...(otpInput.value.trim() ? { otp: otpInput.value.trim() } : {}),
      }),
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
    otpInput.value = "";
    button.disabled = false;
  }
});
