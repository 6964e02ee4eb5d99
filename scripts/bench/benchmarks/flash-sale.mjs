export const name = "flash-sale";
export const summary = "todo";
export async function run() { throw new Error("todo"); }
