/** Base for the service's own errors: each says what went wrong and what to do next. */
export class AppError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A missing or malformed setting; the process should stop and name it. */
export class ConfigError extends AppError {}
