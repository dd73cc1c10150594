import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { RESOURCES_DIR } from '../../src-main/recipe/load-recipe.ts';
import { OnnxLocalTeacher } from '../../src-main/teachers/onnx-local-teacher.ts';
import { TeacherClient } from '../../src-main/teachers/teacher-client.ts';
import { QueryBudget, TeacherBudgetExceededError } from '../../src-main/teachers/query-budget.ts';
import { loadDataset, resolveFashionMnistDir } from '../../src-main/data/load-dataset.ts';
import { subset, type ImageSet } from '../../src-main/data/image-set.ts';
import { agreement } from '../../src-main/training/evaluate.ts';

const manifest = path.join(RESOURCES_DIR, 'teachers', 'fashion-mnist-cnn.json');
let test500: ImageSet;
const per = 28 * 28;

before(() => {
  const { dir } = resolveFashionMnistDir();
  test500 = subset(
    loadDataset({ kind: 'idx', dir, split: 'test' }),
    Array.from({ length: 500 }, (_, i) => i),
  );
});

test('the shipped teacher answers every response kind consistently, as a black box', async () => {
  const kinds = ['logits', 'probabilities', 'top-k', 'top-1'] as const;
  const top1s: Int32Array[] = [];
  for (const kind of kinds) {
    const t = await OnnxLocalTeacher.open({ model: manifest, responseKind: kind, topK: 3 });
    try {
      assert.equal(t.info.numClasses, 10);
      assert.equal(t.info.classNames?.[9], 'Ankle boot');
      assert.match(t.info.id, new RegExp(`^onnx-local:fashion-mnist-cnn:[0-9a-f]{16}:${kind}$`));
      const r = await t.query(test500.images, test500.count);
      assert.equal(r.kind, kind);
      assert.equal(r.count, 500);
      assert.equal(Boolean(r.logits), kind === 'logits');
      assert.equal(Boolean(r.probs), kind === 'logits' || kind === 'probabilities');
      assert.equal(r.topk?.k, kind === 'top-k' ? 3 : undefined);
      top1s.push(r.top1);
    } finally {
      await t.close();
    }
  }
  for (const t of top1s.slice(1)) assert.deepEqual(t, top1s[0]);
  assert.ok(agreement(top1s[0], test500.labels!) > 0.88, 'the teacher should be strong on Fashion-MNIST');
});

describeBudget();

function describeBudget() {
  let teacher: OnnxLocalTeacher;
  before(async () => {
    teacher = await OnnxLocalTeacher.open({ model: manifest, responseKind: 'probabilities' });
  });
  after(() => teacher.close());

  test('the client batches requests and never sends past the budget', async () => {
    const client = new TeacherClient(teacher, new QueryBudget(250), { maxBatch: 64 });
    const progress: number[] = [];
    const r = await client.label(test500.images, 200, per, (p) => progress.push(p.done));
    assert.equal(r.count, 200);
    assert.deepEqual(progress, [64, 128, 192, 200]);
    assert.equal(client.requests, 4);
    await assert.rejects(client.label(test500.images, 51, per), TeacherBudgetExceededError);
    assert.equal(client.sent, 200, 'a request the budget cannot pay sends nothing');
    await client.label(test500.images, 50, per);
    assert.equal(client.budget.spent, 250);
    assert.equal(client.budget.remaining, 0);
  });

  test('a missing teacher manifest is a clear error naming the file', async () => {
    await assert.rejects(
      OnnxLocalTeacher.open({ model: path.join(RESOURCES_DIR, 'teachers', 'missing.json') }),
      /missing.json: cannot read teacher manifest/,
    );
  });
}
