// The operator console: Vue 3 + Element Plus (Chinese first), mounted once the session is known.
import ElementPlus from "element-plus";
import "element-plus/dist/index.css";
import { createApp } from "vue";
import App from "./App.vue";
import "./console.css";
import { startRouter } from "./router.js";
import { restore } from "./session.js";

startRouter();
createApp(App).use(ElementPlus).mount("#app");
restore();
