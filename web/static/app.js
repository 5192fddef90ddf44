// Loaded on every signed-in page: sign out, lock now, and the "footage locked" prompt.
import { api, el, ensureUnlocked, toSignIn } from "/static/api.js";
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

// The owner never confirmed storing the recovery key (the first run was left at that
// step): say so on every page until they do (docs/design/first-run.md).
if (document.getElementById("lock-now")) {
  api("/api/v1/setup/recovery")
    .then((state) => {
      if (!state.pending) return;
      const banner = el("div", { class: "banner", role: "status" },
        el("p", { text: "The recovery key made at setup was never confirmed as stored. It cannot be shown again: if you do not have it, make a new one on the box with 'nvr keys rotate --passphrase-file FILE --recovery-file OUT'." }),
        el("button", {
          type: "button",
          class: "secondary",
          text: "I have stored the recovery key",
          onclick: async () => {
            await api("/api/v1/setup/recovery-confirmed", { method: "POST" });
            banner.remove();
          },
        }));
      document.getElementById("main").prepend(banner);
    })
    .catch(() => {}); // an older box without the route, or signed out meanwhile
}
