// The reseller portal's analysis chart: spend by SKU and day, its data in a JSON block (no inline script).
(function () {
  var data = JSON.parse(document.getElementById('portal-analysis-data').textContent);
  var colors = ['#3e7cb1', '#f0a202', '#0b7a3e', '#b42318', '#7b4fa0', '#2a9d8f', '#e76f51', '#6c757d'];
  var canvas = document.getElementById('portal-spend-chart');
  var chart = new Chart(canvas, {
    type: 'bar',
    data: {
      labels: data.days,
      datasets: data.series.map(function (s, i) { return { label: s.sku, data: s.yuan, backgroundColor: colors[i % colors.length] }; }),
    },
    options: { animation: false, maintainAspectRatio: false, scales: { x: { stacked: true }, y: { stacked: true } } },
  });
  canvas.setAttribute('data-rendered', String(chart.data.datasets.length));
})();
