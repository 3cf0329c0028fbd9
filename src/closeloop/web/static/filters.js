/* closeloop filter helpers shared by the pages whose filters live in the URL (dashboard, behaviour).
 * Plain ES2017, no build step: exposes window.closeloopFilters. */
(function () {
  "use strict";

  /** A local date as YYYY-MM-DD. */
  function isoDate(date) {
    var month = String(date.getMonth() + 1).padStart(2, "0");
    var day = String(date.getDate()).padStart(2, "0");
    return date.getFullYear() + "-" + month + "-" + day;
  }

  /** The filter form's values (inputs #f-<key>), trimmed; "" for a key without an input. */
  function formState(keys) {
    var state = {};
    keys.forEach(function (key) {
      var input = document.getElementById("f-" + key);
      state[key] = input ? input.value.trim() : "";
    });
    return state;
  }

  /** Put a state's values into the filter form. */
  function fillForm(keys, state) {
    keys.forEach(function (key) {
      var input = document.getElementById("f-" + key);
      if (input) input.value = state[key];
    });
  }

  /** A share (0…1) as "12.3%"; "–" when unknown. */
  function percent(share) {
    return share === null || share === undefined ? "–" : (100 * share).toFixed(1) + "%";
  }

  window.closeloopFilters = { isoDate: isoDate, formState: formState, fillForm: fillForm, percent: percent };
})();
