// The security page (to be written).
import type { Route } from "../route";

export function Security(_props: { route: Route }) {
  return <main class="page"><h1>Security</h1></main>;
}
