/** The bundled assets, listed by the Vite config's plugin (vite.config.ts). */
declare module 'virtual:demo-samples' {
  /** Sample image paths relative to the page, e.g. 'samples/shapes-1.png'. */
  export const samples: string[];
  /** The bundled model package's folder relative to the page: 'models/shapes/'. */
  export const bundledModel: string;
}
