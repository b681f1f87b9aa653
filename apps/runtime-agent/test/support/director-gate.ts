import { createDirector } from "@runtime-agent/compass-sim";
import type { DirectorFactory, DirectorRequest } from "@runtime-agent/compass-sim";

/**
 * The simulated Director with a gate in front of it (pass `gate.factory` as the simulator's `director`). Open, it
 * changes nothing. Closed, every Director request waits inside the simulator until its `x-request-id` — the agent's
 * reconcile id, the same for every call of one cycle — is let through with `pass()`, or the gate is opened. A test
 * thus stops a cycle inside its Director calls for exactly as long as it needs, whatever the machine's speed.
 */
export class DirectorGate {
  #closed = false;
  readonly #passed = new Set<string>();
  readonly #waiting: { requestId: string; release: () => void }[] = [];
  /** The request ids held so far, in order of arrival, each once. */
  readonly held: string[] = [];

  readonly factory: DirectorFactory = (environment) => {
    const director = createDirector(environment);
    return {
      handle: async (request: DirectorRequest) => {
        await this.#admit(request);
        return director.handle(request);
      },
    };
  };

  close(): void {
    this.#closed = true;
  }

  /** Lets every request through again, also the ones waiting. */
  open(): void {
    this.#closed = false;
    this.#passed.clear();
    for (const waiting of this.#waiting.splice(0)) waiting.release();
  }

  /** Lets the requests of one cycle through: those waiting and those still to come. */
  pass(requestId: string): void {
    this.#passed.add(requestId);
    for (const waiting of this.#waiting.filter((w) => w.requestId === requestId)) {
      this.#waiting.splice(this.#waiting.indexOf(waiting), 1);
      waiting.release();
    }
  }

  async #admit(request: DirectorRequest): Promise<void> {
    if (!this.#closed) return;
    const header = request.headers["x-request-id"];
    const requestId = (Array.isArray(header) ? header[0] : header) ?? "";
    if (this.#passed.has(requestId)) return;
    if (!this.held.includes(requestId)) this.held.push(requestId);
    await new Promise<void>((resolve) => this.#waiting.push({ requestId, release: resolve }));
  }
}
