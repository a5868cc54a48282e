/*
 * The report page's charts, drawn with Chart.js from the figures the page ships as JSON (reports/charts.py
 * describes the shapes). Each <canvas data-chart="<id>"> draws the JSON of <script id="<id>">.
 *
 * The colours are the page's own (the custom properties of inbox.css). Chart.js sizes its canvas through
 * the CSSOM, which the Content-Security-Policy allows; nothing here adds a style attribute or a <style>.
 * A bar links to the interactions behind it, as the tables' counts do; the tables are the charts'
 * accessible equivalent, and each canvas states its figures in its aria-label.
 */
(() => {
  "use strict";

  if (typeof Chart === "undefined") return;

  const style = getComputedStyle(document.documentElement);
  const colour = (name) => style.getPropertyValue(name).trim();
  const palette = {
    text: colour("--text"),
    muted: colour("--text-muted"),
    border: colour("--border"),
    surface: colour("--surface"),
    answered: colour("--accent"),
    abandoned: colour("--alert"),
    level: colour("--available"),
    target: colour("--wrapup"),
  };
  // Tick labels on the time axis: at most this many, so a year by day stays readable.
  const MAX_TIME_LABELS = 14;
  // A horizontal chart is this tall per bar, plus its axis.
  const ROW_PX = 30;
  const AXIS_PX = 44;

  Chart.defaults.font.family = style.fontFamily;
  Chart.defaults.font.size = 12;
  Chart.defaults.color = palette.muted;
  Chart.defaults.borderColor = palette.border;
  // A report is read, not watched: the figures appear at once.
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  // Figures written as the tables write them.
  const number = new Intl.NumberFormat(document.documentElement.lang || undefined, {
    maximumFractionDigits: 1,
    useGrouping: false,
  });

  // Each bar's value written at its end (the tables have the same figures).
  const valueLabels = {
    id: "valueLabels",
    afterDatasetsDraw(chart, _args, options) {
      const { ctx } = chart;
      const horizontal = chart.options.indexAxis === "y";
      ctx.save();
      ctx.fillStyle = palette.text;
      ctx.font = `${Chart.defaults.font.size}px ${Chart.defaults.font.family}`;
      ctx.textAlign = horizontal ? "left" : "center";
      ctx.textBaseline = horizontal ? "middle" : "bottom";
      chart.getDatasetMeta(0).data.forEach((bar, index) => {
        const text = number.format(chart.data.datasets[0].data[index]) + options.unit;
        ctx.fillText(text, horizontal ? bar.x + 4 : bar.x, horizontal ? bar.y : bar.y - 3);
      });
      ctx.restore();
    },
  };

  // Following a bar's link: the bar under the pointer, which shows the bars that have one.
  const linked = (hrefFor) => {
    const hrefAt = (event, chart) => {
      for (const element of chart.getElementsAtEventForMode(event, "point", { intersect: true }, true)) {
        const href = hrefFor(element);
        if (href) return href;
      }
      return "";
    };
    return {
      onClick(event, _elements, chart) {
        const href = hrefAt(event, chart);
        if (href) window.location.assign(href);
      },
      onHover(event, _elements, chart) {
        chart.canvas.style.cursor = hrefAt(event, chart) ? "pointer" : "default";
      },
    };
  };

  const volumeChart = (canvas, data) => {
    const many = data.labels.length > 62;
    const drill = (element) => {
      const outcome = ["answered", "abandoned"][element.datasetIndex];
      const counts = [data.answered, data.abandoned][element.datasetIndex];
      if (!outcome || !counts[element.index]) return "";
      const url = new URL(data.links.base, window.location.href);
      url.searchParams.set("interval_start", data.links.interval_starts[element.index]);
      url.searchParams.set("outcome", outcome);
      return url.pathname + url.search;
    };
    const datasets = [
      // The lines over the bars: a lower order is drawn later.
      { label: "Answered", data: data.answered, backgroundColor: palette.answered, pointStyle: "rect", order: 2 },
      { label: "Abandoned", data: data.abandoned, backgroundColor: palette.abandoned, pointStyle: "rect", order: 2 },
      {
        type: "line",
        order: 0,
        label: "Service level",
        data: data.service_level,
        yAxisID: "level",
        borderColor: palette.level,
        backgroundColor: palette.level,
        borderWidth: 2,
        pointRadius: many ? 0 : 5,
        pointBackgroundColor: palette.level,
        pointBorderColor: palette.surface,
        pointBorderWidth: 1.5,
        spanGaps: false,
      },
    ];
    if (data.target !== null) {
      datasets.push({
        type: "line",
        order: 1,
        label: `Target ${number.format(data.target)} %`,
        data: data.labels.map(() => data.target),
        yAxisID: "level",
        borderColor: palette.target,
        pointStyle: "line",
        borderDash: [6, 4],
        borderWidth: 1.5,
        pointRadius: 0,
        pointHoverRadius: 0,
        isTarget: true,
      });
    }
    return new Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets },
      options: {
        ...linked(drill),
        interaction: { mode: "index", intersect: false },
        // Hundreds of days are drawn as one surface; a few keep a gap between bars.
        datasets: { bar: many ? { barPercentage: 1, categoryPercentage: 1 } : { barPercentage: 0.8, categoryPercentage: 0.9 } },
        scales: {
          x: {
            stacked: true,
            grid: { display: false },
            ticks: { autoSkip: true, maxTicksLimit: MAX_TIME_LABELS, maxRotation: 0 },
          },
          y: {
            stacked: true,
            beginAtZero: true,
            title: { display: true, text: "Contacts" },
            ticks: { precision: 0 },
            border: { display: false },
          },
          level: {
            position: "right",
            min: 0,
            max: 100,
            title: { display: true, text: "Service level" },
            ticks: { callback: (value) => `${value} %`, stepSize: 20 },
            grid: { display: false },
            border: { display: false },
          },
        },
        plugins: {
          legend: {
            position: "top",
            align: "start",
            labels: { usePointStyle: true, pointStyleWidth: 16, sort: (a, b) => a.datasetIndex - b.datasetIndex },
          },
          tooltip: {
            filter: (item) => !item.dataset.isTarget,
            callbacks: {
              label: (item) =>
                item.dataset.yAxisID === "level"
                  ? `${item.dataset.label}: ${item.raw === null ? "—" : `${number.format(item.raw)} %`}`
                  : `${item.dataset.label}: ${item.raw}`,
            },
          },
        },
      },
    });
  };

  const barChart = (canvas, data) => {
    const horizontal = data.horizontal;
    if (horizontal) {
      canvas.parentElement.style.height = `${data.labels.length * ROW_PX + AXIS_PX}px`;
    }
    const valueAxis = {
      beginAtZero: true,
      grace: "12%",
      ticks: data.counts ? { precision: 0 } : {},
      border: { display: false },
    };
    const categoryAxis = { grid: { display: false } };
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{ data: data.values, backgroundColor: palette.answered, barPercentage: 0.75 }],
      },
      plugins: [valueLabels],
      options: {
        ...linked((element) => data.links[element.index] || ""),
        indexAxis: horizontal ? "y" : "x",
        scales: horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis },
        plugins: {
          legend: { display: false },
          valueLabels: { unit: data.unit },
          tooltip: {
            callbacks: { label: (item) => `${number.format(item.raw)}${data.unit}` },
          },
        },
      },
    });
  };

  for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source) continue;
    const data = JSON.parse(source.textContent);
    (data.kind === "volume" ? volumeChart : barChart)(canvas, data);
  }
})();
