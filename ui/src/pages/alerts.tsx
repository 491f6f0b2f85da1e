// The alerts page (to be written).
import type { Route } from "../route";

export function Alerts(_props: { route: Route }) {
  return <main class="page"><h1>Alerts</h1></main>;
}
