import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Two pages: the UI (index.html, every path the gateway serves it at) and GraphiQL
// (graphiql.html, served at GET /graphql). Nothing is inlined into the HTML or as data:
// URLs, so the gateway's content security policy can allow scripts, styles and
// workers from its own origin only.
export default defineConfig({
  plugins: [react()],
  base: "/",
  logLevel: "warn",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 6000,
    rollupOptions: {
      input: { index: "index.html", graphiql: "graphiql.html" },
      // GraphiQL's packages start modules with React compiler directives ("use no
      // memo"), which a bundle does not keep; that is expected, not worth a warning.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
  worker: { format: "es" },
});
