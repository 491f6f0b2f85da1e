// Side-effect imports of style sheets, which esbuild bundles into the CSS file.
declare module "*.css";
