// Boot: catalogues, sign-in, then the screen. Third-party modules are imported only after the
// page can speak, so a missing `make deps` shows a clear message instead of a blank screen.
import { clearToken, forget, getToken, login, logout, mayHaveSession, me, setToken, whenUnauthorised } from "./api.js";
import { disconnect } from "./live.js";
import { applyStatic, currentLocale, loadLocale, onLocale, savedLocale, t, tOr } from "./i18n.js";

const $ = (id) => document.getElementById(id);
// a message for the sign-in screen that survives the reload which tears the signed-in screen down
const NOTICE = "citybrain.notice";
let leaving = false;  // signing out or signed out: answers still in flight change nothing

function fatal(text) {
  $("fatal").textContent = text;
  $("fatal").hidden = false;
}

/** Back to the sign-in screen, with `notice` (a catalogue key) shown there. */
function restart(notice = "") {
  if (notice) sessionStorage.setItem(NOTICE, notice);
  location.reload();
}

/** The session or token ended (a 401): back to the sign-in screen, saying why. */
function ended() {
  if (leaving) return;
  leaving = true;
  const token = getToken();
  clearToken();
  forget();
  restart(token ? "auth.expired" : "auth.ended");
}

const signInError = (err, token) => {
  if (err.status === 401 || err.status === 403) return t(token ? "auth.bad" : "auth.wrong");
  if (err.status === 429) return t("auth.busy");
  return err.message;
};

function signIn(message = "") {
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  $("username").focus();
  return new Promise((resolve) => {
    $("signin-form").onsubmit = async (e) => {
      e.preventDefault();
      const token = $("token-way").open ? $("token").value.trim() : "";
      const username = $("username").value.trim();
      if (!token && (!username || !$("password").value)) {
        $("signin-error").textContent = t("auth.required");
        return;
      }
      try {
        let who;
        if (token) {
          who = await me(token);
          setToken(token);
        } else {
          who = await login(username, $("password").value, $("code").value.trim());
        }
        for (const id of ["token", "password", "code"]) $(id).value = "";
        $("signin").hidden = true;
        resolve(who);
      } catch (err) {
        $("password").value = "";
        $("code").value = "";
        $("signin-error").textContent = signInError(err, token);
      }
    };
  });
}

/** Who is already signed in: this tab's token, else a session cookie this browser may hold. */
async function current() {
  if (getToken()) {
    try {
      return await me();
    } catch {
      clearToken();
    }
  }
  if (mayHaveSession()) {
    try {
      return await me(null);
    } catch {
      forget();
    }
  }
  return null;
}

/** The signed-in person's name and role titles (a token shows its name). */
function showWho(who) {
  const paint = () => {
    const titles = (who.roles || []).map((r) => tOr(`role.${r}`, r)).join("、");
    $("who").textContent = who.kind === "user" && titles ? `${who.name} · ${titles}` : who.name;
    $("who").title = who.department || "";
  };
  $("who").dataset.kind = who.kind;
  $("who").dataset.roles = (who.roles || []).join(" ");
  paint();
  onLocale(paint);
}

async function main() {
  await loadLocale(savedLocale());
  for (const button of [$("lang"), $("signin-lang")]) {
    const relabel = () => { button.textContent = t("lang.switch"); };
    relabel();
    onLocale(relabel);
    button.onclick = () => loadLocale(currentLocale() === "zh-CN" ? "en" : "zh-CN");
  }
  $("signout").onclick = async () => {
    leaving = true;
    disconnect();
    await logout();
    restart("auth.signed_out");
  };
  whenUnauthorised(ended);

  const notice = sessionStorage.getItem(NOTICE);
  sessionStorage.removeItem(NOTICE);
  const who = (await current()) ?? (await signIn(notice ? t(notice) : ""));
  let app;
  try {
    app = await import("./app.js");
  } catch (err) {
    fatal(t("fatal.vendor"));
    throw err;
  }
  $("app").hidden = false;
  applyStatic();
  showWho(who);
  // the live feed was refused: if the session or token has ended, back to the sign-in screen
  await app.start(who, () => me().catch((err) => { if (err.status === 401) ended(); }));
}

main().catch((err) => {
  console.error(err);
  if ($("fatal").hidden) fatal(err.message);
});
