// Statement profile page: the sample statement goes as the raw request body (CSRF token in a
// header), then the page reloads with its preview.
(function () {
  var form = document.getElementById('profile-sample');
  if (!form) return;
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var file = form.file.files[0];
    var result = document.getElementById('profile-sample-result');
    var xhr = new XMLHttpRequest();
    xhr.onerror = function () { result.textContent = 'upload failed: network error'; };
    xhr.onload = function () {
      var answer = {};
      try { answer = JSON.parse(xhr.responseText || '{}'); } catch (e) { answer = {}; }
      if (xhr.status < 300 && answer.location) { window.location.href = answer.location + '#preview'; return; }
      result.textContent = (answer.error && answer.error.message) || ('HTTP ' + xhr.status);
    };
    xhr.open('POST', form.dataset.action + '?name=' + encodeURIComponent(file.name));
    xhr.setRequestHeader('X-CSRF-Token', form.dataset.csrf);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.send(file);
  });
})();
