// ECharts with the screen's dark style; charts resize with their box.
import * as echarts from "echarts";

const AXIS = { axisLine: { lineStyle: { color: "#2a4a6e" } }, axisLabel: { color: "#8fb0d0" }, splitLine: { lineStyle: { color: "#12304f" } } };
export const PALETTE = ["#35c7ff", "#34d399", "#f5c542", "#ff8a3d", "#b28dff", "#ff6fa7", "#4c9bff", "#9be15d", "#ffd6a5", "#5eead4", "#f472b6", "#a3a3ff"];

export function chart(node) {
  const c = echarts.init(node, null, { renderer: "canvas" });
  new ResizeObserver(() => c.resize()).observe(node);
  return c;
}

export function baseOption(extra) {
  return {
    color: PALETTE,
    animation: false,
    grid: { left: 40, right: 12, top: 24, bottom: 24, containLabel: true },
    tooltip: { trigger: "axis", backgroundColor: "rgba(8,22,40,.95)", borderColor: "#35c7ff", textStyle: { color: "#d8e6f5" } },
    textStyle: { fontFamily: "Noto Sans CJK SC, WenQuanYi Micro Hei, sans-serif" },
    xAxis: { ...AXIS }, yAxis: { ...AXIS },
    ...extra,
  };
}

export const axis = (extra) => ({ ...AXIS, ...extra });
export { echarts };
