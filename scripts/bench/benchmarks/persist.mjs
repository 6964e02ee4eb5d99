export const name = "persist";
export const summary = "todo";
export async function run() { throw new Error("todo"); }
