interface ImportMeta {
  glob(pattern: string, opts: { query?: string; import?: string; eager: true }): Record<string, unknown>;
}
