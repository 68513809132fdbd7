// Statement upload with a progress bar: the file goes as the raw request body, with the session's
// CSRF token (from the form's data-csrf) in a header.
(function () {
  var form = document.getElementById('upload');
  if (!form) return;
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var file = form.file.files[0];
    var xhr = new XMLHttpRequest();
    var bar = document.getElementById('upload-progress');
    bar.hidden = false;
    xhr.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
    xhr.onerror = function () { bar.hidden = true; document.getElementById('upload-result').textContent = 'upload failed: network error'; };
    xhr.onload = function () {
      if (xhr.status >= 300) bar.hidden = true;
      var answer = {};
      try { answer = JSON.parse(xhr.responseText || '{}'); } catch (e) { answer = {}; }
      document.getElementById('upload-result').textContent = xhr.status < 300 ? answer.message : (answer.error && answer.error.message) || ('HTTP ' + xhr.status);
    };
    xhr.open('POST', '/reconciliation/upload?supplier=' + encodeURIComponent(form.supplier.value) + '&date=' + encodeURIComponent(form.date.value) + '&name=' + encodeURIComponent(file.name));
    xhr.setRequestHeader('X-CSRF-Token', form.dataset.csrf);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.send(file);
  });
})();
