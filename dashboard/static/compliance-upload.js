// 资质 document upload: the file goes as the raw request body, its fields in the query, with the
// session's CSRF token (from the form's data-csrf) in a header. The server checks the type by content.
(function () {
  var form = document.getElementById('document-upload');
  if (!form) return;
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var file = form.file.files[0];
    var out = document.getElementById('upload-result');
    if (!file) { out.textContent = 'file: required'; return; }
    var q = ['supplier', 'kind', 'brand', 'documentNo', 'validFrom', 'expiresOn'].map(function (n) {
      return n + '=' + encodeURIComponent(form.elements[n].value);
    }).join('&') + '&name=' + encodeURIComponent(file.name);
    var xhr = new XMLHttpRequest();
    xhr.onerror = function () { out.textContent = 'upload failed: network error'; };
    xhr.onload = function () {
      var answer = {};
      try { answer = JSON.parse(xhr.responseText || '{}'); } catch (e) { answer = {}; }
      if (xhr.status < 300) { window.location.assign('/compliance?done=' + encodeURIComponent(answer.message)); return; }
      out.textContent = (answer.error && answer.error.message) || ('HTTP ' + xhr.status);
    };
    xhr.open('POST', '/compliance/upload?' + q);
    xhr.setRequestHeader('X-CSRF-Token', form.dataset.csrf);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.send(file);
  });
})();
