/** The distillation methods with their help, and a method's query plan and cost before anything is spent. */
import { getMethod, listMethods } from '../methods/index.ts';
import type { ApiHandlers } from './context.ts';

export function methodHandlers(): Pick<ApiHandlers, 'methods:list' | 'methods:plan'> {
  return {
    'methods:list': async () =>
      listMethods().map((m) => ({
        key: m.key,
        title: m.title,
        reference: m.reference,
        formula: m.formula,
        help: m.help,
      })),

    'methods:plan': async (r) => {
      const plan = getMethod(r.method).plan({
        kwargs: r.kwargs,
        localCount: r.n,
        responseKind: r.responseKind,
        budget: r.budget,
      });
      return { ...plan, cost: (plan.total / 1000) * r.pricePer1000, fits: plan.total <= r.budget };
    },
  };
}
