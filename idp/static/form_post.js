document.getElementById("response-form").submit();
