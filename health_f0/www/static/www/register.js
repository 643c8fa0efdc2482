/* Registration form helpers. Optional: without JS the form works with its submit buttons.
   ES5 on purpose (old Android browsers). */
(function () {
  "use strict";
  document.documentElement.className += " js";
  var form = document.querySelector("form[data-wards-url]");
  if (!form) { return; }
  var province = form.querySelector("#id_province_code");
  var ward = form.querySelector("#id_ward_code");
  if (!province || !ward) { return; }

  function setOptions(items, placeholder) {
    while (ward.options.length) { ward.remove(0); }
    ward.appendChild(new Option(placeholder, ""));
    for (var i = 0; i < items.length; i++) {
      ward.appendChild(new Option(items[i].name, String(items[i].code)));
    }
  }

  // Provinces with home-care stations (data-served); any other one gets the note at once, not at submit.
  var served = (province.getAttribute("data-served") || "").split(" ");
  var note = document.getElementById("province-note");
  function showServed() {
    if (!note) { return; }
    var unserved = province.value !== "" && served.indexOf(province.value) === -1;
    note.hidden = !unserved;
    if (unserved) { province.setAttribute("aria-describedby", "province-note"); }
    else { province.removeAttribute("aria-describedby"); }
  }

  province.addEventListener("change", function () {
    showServed();
    var code = province.value;
    if (!code) { setOptions([], "— Chọn tỉnh/thành phố trước —"); return; }
    ward.disabled = true;
    var xhr = new XMLHttpRequest();
    xhr.open("GET", form.getAttribute("data-wards-url") + "?tinh=" + encodeURIComponent(code));
    xhr.onload = function () {
      ward.disabled = false;
      if (xhr.status !== 200) { return; }
      try { setOptions(JSON.parse(xhr.responseText).wards, "— Chọn phường/xã —"); } catch (e) { /* keep list */ }
    };
    xhr.onerror = function () { ward.disabled = false; };
    xhr.send();
  });
})();
