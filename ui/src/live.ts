// Changes pushed by the gateway as they commit: its subscriptions over graphql-transport-ws
// at /graphql, with the tab's token.
import { useEffect, useState } from "react";
import { createClient } from "graphql-ws";

import { token } from "./api";

export type LiveState = "connecting" | "live" | "reconnecting" | "refused";

interface Event {
  cursor: string;
}

function socketUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === "https:" ? "wss:" : "ws:"}//${host}/graphql`;
}

/** Follows the subscription ``field`` of ``document`` (which takes ``$after`` and selects
 * ``cursor``) from now on, calling ``onEvent`` with each event, while ``key`` stays the
 * same. A lost connection is opened again from the last event's cursor, after a pause
 * that grows: nothing committed meanwhile is missed, nothing given twice. */
export function useLive<T extends Event>(
  document: string,
  variables: Record<string, unknown>,
  field: string,
  key: string | null,
  onEvent: (event: T) => void,
): LiveState {
  const [state, setState] = useState<LiveState>("connecting");
  useEffect(() => {
    if (key === null) return;
    let cursor: string | null = null;
    let stopped = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stop = () => {};
    const again = () => {
      if (stopped) return;
      setState("reconnecting");
      attempt += 1;
      timer = setTimeout(start, Math.min(10_000, 250 * 2 ** attempt));
    };
    const start = () => {
      const secret = token.get();
      const client = createClient({
        url: socketUrl(),
        connectionParams: secret ? { authorization: `Bearer ${secret}` } : {},
        retryAttempts: 0, // reconnected here, from the last cursor
        on: { connected: () => setState("live") },
      });
      const unsubscribe = client.subscribe<Record<string, T>>(
        { query: document, variables: { ...variables, after: cursor } },
        {
          next: (result) => {
            const event = result.data?.[field];
            if (result.errors?.length) {
              setState("refused");
              stopped = true;
              return;
            }
            if (event) {
              cursor = event.cursor;
              attempt = 0;
              onEvent(event);
            }
          },
          error: (error: unknown) => {
            void client.dispose();
            // A refused token (4403) or a refused subscription: trying again cannot help.
            const code = (error as { code?: number } | null)?.code;
            if (code === 4403 || code === 4400 || Array.isArray(error)) {
              setState("refused");
              return;
            }
            again();
          },
          complete: () => {
            void client.dispose();
            again();
          },
        },
      );
      stop = () => {
        unsubscribe();
        void client.dispose();
      };
    };
    start();
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      stop();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return state;
}

/** A small label saying whether the page hears changes as they happen. */
export function liveLabel(state: LiveState): string {
  return {
    connecting: "connecting…",
    live: "live: new ones appear as they are logged",
    reconnecting: "reconnecting…",
    refused: "not live (the gateway refused the subscription)",
  }[state];
}
