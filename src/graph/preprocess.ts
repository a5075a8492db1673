// Tiny WGSL preprocessor for compile-time variants (ggml #if defines, gpu.cpp {{slots}}):
//   #include "common/name.wgsl"   text of another shader file (once per file)
//   #if NAME / #if !NAME / #elif NAME / #else / #endif   on defines that are truthy
//   {{NAME}}                      replaced by the define's value
// Runtime sizes never go through here; they travel in the Params uniform.

export type Defines = Record<string, string | number | boolean>;

export function preprocessWgsl(
  name: string,
  sources: Record<string, string>,
  defines: Defines = {},
  seen = new Set<string>(),
): string {
  const src = sources[name];
  if (src === undefined)
    throw new Error(`shader '${name}' not found (known: ${Object.keys(sources).sort().join(', ')})`);
  seen.add(name);
  const out: string[] = [];
  // Stack of [thisBranchActive, anyBranchTaken, parentActive]
  const stack: Array<[boolean, boolean, boolean]> = [];
  const active = () => (stack.length ? stack[stack.length - 1][0] : true);
  const truthy = (expr: string, lineNo: number): boolean => {
    const e = expr.trim();
    const neg = e.startsWith('!');
    const key = neg ? e.slice(1).trim() : e;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`${name}:${lineNo}: bad #if expression '${expr}'`);
    const v = defines[key];
    const t = v !== undefined && v !== false && v !== 0 && v !== '0' && v !== '';
    return neg ? !t : t;
  };
  const lines = src.split('\n');
  lines.forEach((line, i) => {
    const m = /^\s*#(include|if|elif|else|endif)\b\s*(.*)$/.exec(line);
    if (!m) {
      if (active()) out.push(line);
      return;
    }
    const [, dir, arg] = m;
    switch (dir) {
      case 'include': {
        if (!active()) return;
        const inc = /^"([^"]+)"/.exec(arg.trim());
        if (!inc) throw new Error(`${name}:${i + 1}: bad #include`);
        const key = inc[1].replace(/\.wgsl$/, '');
        if (!seen.has(key)) out.push(preprocessWgsl(key, sources, defines, seen));
        return;
      }
      case 'if': {
        const parent = active();
        const t = parent && truthy(arg, i + 1);
        stack.push([t, t, parent]);
        return;
      }
      case 'elif': {
        const top = stack[stack.length - 1];
        if (!top) throw new Error(`${name}:${i + 1}: #elif without #if`);
        const t = top[2] && !top[1] && truthy(arg, i + 1);
        top[0] = t;
        top[1] = top[1] || t;
        return;
      }
      case 'else': {
        const top = stack[stack.length - 1];
        if (!top) throw new Error(`${name}:${i + 1}: #else without #if`);
        top[0] = top[2] && !top[1];
        top[1] = true;
        return;
      }
      case 'endif':
        if (!stack.pop()) throw new Error(`${name}:${i + 1}: #endif without #if`);
        return;
    }
  });
  if (stack.length) throw new Error(`${name}: unterminated #if`);
  let text = out.join('\n');
  text = text.replace(/\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}/g, (_, k: string) => {
    if (!(k in defines)) throw new Error(`shader '${name}': no value for {{${k}}}`);
    return String(defines[k]);
  });
  return text;
}
