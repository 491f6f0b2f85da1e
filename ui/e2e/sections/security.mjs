// The security page's checks (to be written).
export default async function () {}
