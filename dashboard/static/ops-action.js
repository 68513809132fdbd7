// An ops action on the order page: sent by fetch, answered at once (202 "accepted, running"), then its
// progress is polled from /fulfillment/:id/action.json until it finishes or is refused.
(function () {
  var form = document.getElementById('ops-action');
  var progress = document.getElementById('action-progress');
  if (!progress) return;
  var order = progress.dataset.order;
  var show = function (text, bad) {
    progress.hidden = false;
    progress.textContent = text;
    progress.className = bad ? 'notice bad' : 'notice';
  };
  var poll = function () {
    fetch('/fulfillment/' + order + '/action.json', { headers: { accept: 'application/json' } })
      .then(function (res) { return res.json(); })
      .then(function (answer) {
        if (answer.state === 'running') {
          show(answer.message, false);
          setTimeout(poll, 500);
        } else if (answer.state === 'finished' || answer.state === 'refused') {
          window.location.assign('/fulfillment/' + order + '?done=' + encodeURIComponent(answer.message));
        }
      })
      .catch(function () { setTimeout(poll, 2000); });
  };
  if (!progress.hidden) poll();
  if (!form) return;
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var button = form.querySelector('button[type=submit]');
    button.disabled = true;
    // form.action is the select named "action": the URL is the attribute
    fetch(form.getAttribute('action'), { method: 'POST', body: new URLSearchParams(new FormData(form)), headers: { accept: 'application/json' } })
      .then(function (res) { return res.json().then(function (answer) { return { status: res.status, answer: answer }; }); })
      .then(function (r) {
        if (r.status === 202) {
          show(r.answer.message, false);
          setTimeout(poll, 300);
        } else {
          button.disabled = false;
          show((r.answer.error && r.answer.error.message) || ('HTTP ' + r.status), true);
        }
      })
      .catch(function () { button.disabled = false; show('network error', true); });
  });
})();
