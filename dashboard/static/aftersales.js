// After-sales (售后): keeps each SLA countdown (data-due) counting without a reload.
(function () {
  var zh = document.documentElement.lang !== 'en';
  function tick() {
    var spans = document.querySelectorAll('span.sla[data-due]');
    for (var i = 0; i < spans.length; i++) {
      var ms = new Date(spans[i].getAttribute('data-due')).getTime() - Date.now();
      var abs = Math.abs(ms);
      var text = Math.floor(abs / 3600000) + 'h ' + Math.floor((abs % 3600000) / 60000) + 'm';
      spans[i].textContent = ms < 0 ? (zh ? '已超时 ' : 'overdue ') + text : (zh ? '剩余 ' : 'left ') + text;
      spans[i].classList.toggle('bad', ms < 0);
    }
  }
  setInterval(tick, 30000);
})();
