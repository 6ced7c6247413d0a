/** Epoch seconds, the unit of JWT claims and of the Redis revocation records. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);
