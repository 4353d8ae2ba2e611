// Boot: catalogues, sign-in, then the screen. Third-party modules are imported only after the
// page can speak, so a missing `make deps` shows a clear message instead of a blank screen.
import { clearToken, getToken, session, setToken, whenUnauthorised } from "./api.js";
import { applyStatic, currentLocale, loadLocale, onLocale, savedLocale, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);

function fatal(text) {
  $("fatal").textContent = text;
  $("fatal").hidden = false;
}

function signIn(message = "") {
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  $("token").focus();
  return new Promise((resolve) => {
    $("signin-form").onsubmit = async (e) => {
      e.preventDefault();
      const token = $("token").value.trim();
      try {
        const who = await session(token);
        setToken(token);
        $("token").value = "";
        $("signin").hidden = true;
        resolve(who);
      } catch (err) {
        $("signin-error").textContent = err.status === 401 || err.status === 403 ? t("auth.bad") : err.message;
      }
    };
  });
}

async function main() {
  await loadLocale(savedLocale());
  const langButton = $("lang");
  const relabel = () => { langButton.textContent = t("lang.switch"); };
  relabel();
  onLocale(relabel);
  langButton.onclick = () => loadLocale(currentLocale() === "zh-CN" ? "en" : "zh-CN");
  $("signout").onclick = () => { clearToken(); location.reload(); };
  whenUnauthorised(() => { clearToken(); fatal(t("auth.expired")); });

  let who = null;
  if (getToken()) {
    try {
      who = await session(getToken());
    } catch {
      clearToken();
    }
  }
  who ??= await signIn();
  let app;
  try {
    app = await import("./app.js");
  } catch (err) {
    fatal(t("fatal.vendor"));
    throw err;
  }
  $("app").hidden = false;
  applyStatic();
  await app.start(who);
}

main().catch((err) => {
  console.error(err);
  if ($("fatal").hidden) fatal(err.message);
});
