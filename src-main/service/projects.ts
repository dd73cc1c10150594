/** Projects group runs: the list with what each has spent, and creating one by name. */
import type { ApiHandlers, ServiceContext } from './context.ts';

export function projectHandlers({ store }: ServiceContext): Pick<ApiHandlers, 'projects:list' | 'projects:create'> {
  return {
    'projects:list': async () => store.projectSummaries(),

    'projects:create': async ({ name }) => {
      store.projectId(name);
      return { name };
    },
  };
}
