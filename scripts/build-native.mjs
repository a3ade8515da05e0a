// placeholder, replaced by the native-addon work
