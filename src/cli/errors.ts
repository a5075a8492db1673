/** An error caused by the user's input: printed as one line, exit code 2. */
export class UserError extends Error {
  readonly exitCode = 2;
}
