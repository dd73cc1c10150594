/** WebAssembly text to binary with wabt (a dev dependency: used by the build script and the tests only). */
export async function compileWat(name: string, source: string): Promise<Uint8Array> {
  const { default: init } = await import('wabt');
  const wabt = await init();
  const mod = wabt.parseWat(name, source, { simd: true });
  try {
    mod.validate();
    return new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}
