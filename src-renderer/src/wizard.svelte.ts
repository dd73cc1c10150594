/** The wizard's choices, shared by every step; plain reactive data, no engine code. */
import type {
  DataPreview,
  Evaluation,
  MethodInfo,
  PlanResult,
  StudentCard,
  TeacherTestResult,
  BundleInfo,
} from '../../src-main/api/contract.ts';

export const STEPS = [
  'Project',
  'Teacher',
  'Data',
  'Student',
  'Method & budget',
  'Train',
  'Evaluate',
  'Export',
] as const;

export const wiz = $state({
  step: 0,
  project: '',
  teacher: {
    protocol: 'kserve-v2' as 'kserve-v2' | 'tf-serving' | 'torchserve' | 'onnx-local',
    target: '',
    modelName: '',
    token: '',
    tokenKey: undefined as string | undefined,
    mean: '',
    std: '',
  },
  teacherResult: null as TeacherTestResult | null,
  data: { kind: 'builtin' as 'builtin' | 'idx' | 'folder', dir: '' },
  preview: null as DataPreview | null,
  n: 200,
  testLimit: 200,
  students: [] as StudentCard[],
  student: '',
  methods: [] as MethodInfo[],
  method: 'kd-soft',
  temperature: 4,
  budget: 500,
  price: 1,
  epochs: 2,
  batchSize: 32,
  learningRate: 0.005,
  schedule: 'cosine' as 'constant' | 'cosine',
  plan: null as PlanResult | null,
  runId: null as string | null,
  runStatus: '',
  evaluation: null as Evaluation | null,
  bundle: null as BundleInfo | null,
});

/** Comma-separated numbers, or undefined when blank or malformed. */
function numbers(text: string): number[] | undefined {
  const v = text
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map(Number);
  return v.length && v.every(Number.isFinite) ? v : undefined;
}

/** The teacher connection as the contract wants it, with the declared normalisation if any. */
export function teacherConnection() {
  const t = wiz.teacher;
  const r = wiz.teacherResult;
  const mean = numbers(t.mean);
  const std = numbers(t.std);
  const input =
    r && (mean || std) ? { shape: r.inputShape, layout: r.layout as 'NCHW' | 'NHWC', mean, std } : undefined;
  return { protocol: t.protocol, target: t.target, modelName: t.modelName || undefined, tokenKey: t.tokenKey, input };
}
