/**
 * Names the contract shares with the engine, kept free of imports so the renderer (through the
 * contract) and the engine's own modules can both use them without the contract depending on
 * engine code.
 */
export const LR_SCHEDULES = ['constant', 'cosine'] as const;
