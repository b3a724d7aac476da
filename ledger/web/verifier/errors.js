// The one error the verifier throws on purpose: a check that failed.
//
// `check` names the failed check in a fixed vocabulary (web/README.md lists every one, and the
// Python function each mirrors); `message` says what was got and what was wanted. The
// differential tests (tests/test_web_verifier.py) hold `check` to the category of the error
// the Python code raises for the same input.

export class VerifyError extends Error {
  constructor(check, message) {
    super(message);
    this.name = "VerifyError";
    this.check = check;
  }
}

