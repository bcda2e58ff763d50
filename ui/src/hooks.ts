import { type DependencyList, useEffect, useState } from "react";

import { ApiError, gql } from "./api";

export interface Loaded<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
}

const ASKING: Loaded<never> = { data: null, error: null, loading: true };

/** A GraphQL query's answer, asked again when ``deps`` change. An answer belongs to the
 * ``deps`` it was asked for: until the new one arrives, the query is loading (not the
 * previous answer, nor its error), and a late answer to older ``deps`` is dropped. */
export function useQuery<T>(query: string, variables: Record<string, unknown>, deps: DependencyList): Loaded<T> {
  const key = JSON.stringify(deps);
  const [state, setState] = useState<Loaded<T> & { key: string | null }>({ ...ASKING, key: null });
  useEffect(() => {
    let current = true;
    gql<T>(query, variables).then(
      (data) => current && setState({ data, error: null, loading: false, key }),
      (error: unknown) =>
        current &&
        setState({
          data: null,
          error: error instanceof ApiError ? error : new ApiError(String(error), "INTERNAL"),
          loading: false,
          key,
        }),
    );
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return state.key === key ? state : ASKING;
}
