// The Account page (every signed-in role): whether footage is unlocked (and the unlock
// prompt for the owner or a household member), and "Log out everywhere".
import { api, ensureUnlocked, session, toSignIn } from "/static/api.js";

const state = document.getElementById("unlock-state");
const unlockButton = document.getElementById("unlock-now");
const lockButton = document.getElementById("lock-footage");
const error = document.getElementById("account-error");

async function show() {
  const who = await session(true);
  if (!who) return;
  if (who.unlocked) state.textContent = "Footage is unlocked for this session.";
  else if (who.can_unlock) state.textContent = "Footage is locked.";
  else state.textContent = "This account has no key to open recorded footage.";
  unlockButton.hidden = who.unlocked || !who.can_unlock;
  lockButton.hidden = !who.unlocked;
}

lockButton.addEventListener("click", async () => {
  await api("/api/v1/lock", { method: "POST" });
  await show();
});

unlockButton.addEventListener("click", async () => {
  await ensureUnlocked(true);
  await show();
});
document.addEventListener("porchlight:locked", show);

document.getElementById("logout-everywhere").addEventListener("click", async () => {
  error.textContent = "";
  try {
    await api("/api/v1/session/logout-everywhere", { method: "POST" });
    toSignIn();
  } catch (failure) {
    error.textContent = failure.message;
  }
});

show();
