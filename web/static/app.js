// Loaded on every signed-in page: sign out, lock now, and the "footage locked" prompt.
import { api, ensureUnlocked, toSignIn } from "/static/api.js";
import "/static/notify.js"; // browser notifications, when this browser opted in (settings)

document.getElementById("sign-out")?.addEventListener("click", async () => {
  try {
    await api("/api/v1/session", { method: "DELETE" });
  } finally {
    toSignIn();
  }
});

document.getElementById("lock-now")?.addEventListener("click", async () => {
  await api("/api/v1/lock", { method: "POST" });
  document.dispatchEvent(new CustomEvent("porchlight:locked"));
  await ensureUnlocked(true);
});
