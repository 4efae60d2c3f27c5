import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export interface ErrorBody {
  error: { code: string; message: string; issues?: unknown[] };
}

/** An error that the one `onError` renders as the contract's error JSON. */
export class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly issues?: unknown[],
  ) {
    super(status, { message });
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { error: { code: this.code, message: this.message } };
    if (this.issues) body.error.issues = this.issues;
    return body;
  }
}

export const unauthorized = () => new ApiError(401, "unauthorized", "missing or invalid credentials");
