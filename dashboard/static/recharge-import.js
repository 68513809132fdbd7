// Recharge import: the bank statement file goes as the raw request body, with the session's CSRF
// token (from the form's data-csrf) in a header; the answer (or every file:line:column problem) is shown.
(function () {
  var form = document.getElementById('recharge-import');
  if (!form) return;
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var file = form.file.files[0];
    var out = document.getElementById('recharge-import-result');
    var xhr = new XMLHttpRequest();
    xhr.onerror = function () { out.textContent = 'upload failed: network error'; };
    xhr.onload = function () {
      var answer = {};
      try { answer = JSON.parse(xhr.responseText || '{}'); } catch (e) { answer = {}; }
      out.textContent = xhr.status < 300 ? answer.message : (answer.error && answer.error.message) || ('HTTP ' + xhr.status);
      if (xhr.status < 300) setTimeout(function () { window.location.reload(); }, 1500);
    };
    xhr.open('POST', '/finance/recharges/import?channel=' + encodeURIComponent(form.channel.value) + '&name=' + encodeURIComponent(file.name));
    xhr.setRequestHeader('X-CSRF-Token', form.dataset.csrf);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.send(file);
  });
})();
