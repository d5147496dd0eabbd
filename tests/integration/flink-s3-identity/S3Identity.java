import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.fs.FSDataOutputStream;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;
import org.apache.flink.core.plugin.PluginUtils;

/**
 * Writes one object per s3:// URI through Flink's own FileSystem, loaded from plugins/ as a
 * TaskManager loads it (FLINK_PLUGINS_DIR), configured with the given key=value options (the
 * tier's s3.* properties). Prints "<uri> ok" or "<uri> <exception class>: <message>" per URI.
 * Run as a single-file source: java -cp 'lib/*' S3Identity.java key=value... -- uri...
 */
public class S3Identity {
    public static void main(String[] args) throws Exception {
        Configuration config = new Configuration();
        int i = 0;
        for (; i < args.length && !args[i].equals("--"); i++) {
            int eq = args[i].indexOf('=');
            config.setString(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        FileSystem.initialize(config, PluginUtils.createPluginManagerFromRootFolder(config));
        for (i++; i < args.length; i++) {
            Path path = new Path(args[i]);
            try (FSDataOutputStream out = path.getFileSystem().create(path, FileSystem.WriteMode.OVERWRITE)) {
                out.write("written by the flink identity\n".getBytes());
                System.out.println(args[i] + " ok");
            } catch (Exception e) {
                Throwable root = e;
                while (root.getCause() != null) root = root.getCause();
                System.out.println(args[i] + " " + root.getClass().getSimpleName() + ": " + String.valueOf(root.getMessage()).replace('\n', ' '));
            }
        }
    }
}
