/** The physical shelves. */
export class Shelves {
  readonly units: number[][];
  oversold = 0;
  constructor(stores: number, skus: number, initial: number) {
    this.units = Array.from({ length: stores }, () => Array.from({ length: skus }, () => initial));
  }
  has(store: number, sku: number, q: number): boolean {
    return (this.units[store]?.[sku] ?? 0) >= q;
  }
  take(store: number, sku: number, q: number): void {
    const row = this.units[store] as number[];
    const have = row[sku] ?? 0;
    if (have < q) this.oversold += q - have;
    row[sku] = Math.max(0, have - q);
  }
  add(store: number, sku: number, q: number): void {
    const row = this.units[store] as number[];
    row[sku] = (row[sku] ?? 0) + q;
  }
}
