// The operator console is built into the Python package (src/citybrain/web/console/), which the
// platform serves under /console/ (web/console_serving.py). Everything is bundled: the page loads
// nothing but its own files and, for the case map, the dashboard's MapLibre under /vendor/.
import { fileURLToPath } from "node:url";
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

export default defineConfig({
  base: "/console/",
  plugins: [vue()],
  build: {
    outDir: fileURLToPath(new URL("../src/citybrain/web/console", import.meta.url)),
    emptyOutDir: true,
    // the bundled packages' licences (Vue, Element Plus and their dependencies), shipped beside them
    license: { fileName: "licenses.md" },
    chunkSizeWarningLimit: 2000,
    modulePreload: { polyfill: false }, // the polyfill would be an inline script under a strict CSP
  },
});
