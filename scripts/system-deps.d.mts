// Types for system-deps.mjs, which stays plain JavaScript so that the test runner can load it before tsx.
export declare const DEBIAN_PYTHON: string;
export declare const CHROMIUM: string;
export declare const FASHION_MNIST_DIR: string;
export interface SystemDep {
  debian: string;
  usedFor: string;
  present(): boolean;
}
export declare const SYSTEM_DEPS: SystemDep[];
export declare function installCommand(packages: string[]): string;
export declare function requireSystemDep(debian: 'chromium' | 'python3-onnx' | 'dataset-fashion-mnist'): void;
export declare function ensureSystemDeps(opts?: { log?: (s: string) => void }): boolean;
