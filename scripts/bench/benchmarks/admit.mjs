export const name = "admit";
export const summary = "todo";
export async function run() { throw new Error("todo"); }
