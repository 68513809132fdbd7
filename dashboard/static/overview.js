// The overview's charts. Their data sits in JSON blocks beside each canvas: no inline script.
(function () {
  function dataOf(id) { return JSON.parse(document.getElementById(id).textContent); }
  var margins = dataOf('margins-data');
  new Chart(document.getElementById('margins'), {
    type: 'bar',
    data: {
      labels: margins.dates,
      datasets: margins.series.map(function (s, i) {
        return { label: s.name, data: s.fen.map(function (f) { return f / 100; }), backgroundColor: margins.colors[i % margins.colors.length] };
      }),
    },
    options: { animation: false, scales: { x: { stacked: true }, y: { stacked: true } } },
  });
  var daily = dataOf('daily-data');
  new Chart(document.getElementById('daily'), {
    type: 'bar',
    data: { labels: daily.map(function (d) { return d.date; }), datasets: [{ label: 'CNY', data: daily.map(function (d) { return d.debitsFen / 100; }), backgroundColor: '#3e7cb1' }] },
    options: { animation: false, plugins: { legend: { display: false } } },
  });
})();
