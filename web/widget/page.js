/* The standalone chat page: the brand from ?brand=, a visitor (no token). */
(function () {
  "use strict";
  var brand = new URLSearchParams(window.location.search).get("brand");
  if (window.AreaClientiChat.brands.indexOf(brand) < 0) brand = "alleanza";
  document.title = "Assistente virtuale " + (brand === "cavita" ? "CA Vita" : "Alleanza");
  window.chat = window.AreaClientiChat.mount(document.getElementById("chat"), { brand: brand });
})();
