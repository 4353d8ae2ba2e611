// The demo organisation's departments and areas that cases go to (citybrain/data/identity/org.toml):
// the API has no organisation listing for operators yet, so the console keeps this table.
export const DEPARTMENTS = [
  ["nc-12345", "市12345政务服务便民热线中心", "12345 Hotline Centre"],
  ["nc-urban", "市数字化城市管理监督指挥中心", "Digital City Management Command Centre"],
  ["nc-housing", "市住房和城乡建设局", "Housing and Construction Bureau"],
  ["nc-water", "市水务局", "Water Bureau"],
  ["nc-market", "市市场监督管理局", "Market Regulation Bureau"],
  ["nc-transport", "市交通运输局", "Transport Bureau"],
  ["nc-civil", "市民政局", "Civil Affairs Bureau"],
  ["donghu-urban", "东湖区城市管理局", "Donghu Urban Management"],
  ["xihu-urban", "西湖区城市管理局", "Xihu Urban Management"],
].map(([id, zh, en]) => ({ id, zh, en }));

export const AREAS = {
  3601: ["南昌市", "Nanchang"],
  360102: ["东湖区", "Donghu"],
  360103: ["西湖区", "Xihu"],
  360104: ["青云谱区", "Qingyunpu"],
  360111: ["青山湖区", "Qingshanhu"],
  360112: ["新建区", "Xinjian"],
  360113: ["红谷滩区", "Honggutan"],
  360121: ["南昌县", "Nanchang County"],
  360123: ["安义县", "Anyi"],
  360124: ["进贤县", "Jinxian"],
};

export function departmentName(id, zh) {
  const d = DEPARTMENTS.find((x) => x.id === id);
  return d ? (zh ? d.zh : d.en) : id || "—";
}

/** An area code read out: a 15-digit unit-grid code (GB/T 30428: county 6 + street 3 +
 * community 3 + grid 3) or an administrative code, with the district's name when known. */
export function areaParts(code, zh) {
  if (!code) return null;
  const county = AREAS[code.slice(0, 6)] || AREAS[code.slice(0, 4)];
  const name = county ? (zh ? county[0] : county[1]) : code.slice(0, 6);
  if (code.length !== 15) return { name, grid: null };
  return { name, grid: { street: code.slice(6, 9), community: code.slice(9, 12), cell: code.slice(12, 15) } };
}
