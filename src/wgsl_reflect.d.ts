// The package's "main" is CommonJS that Node's ESM loader cannot read; we import its ESM build.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
