import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.SchemaStore;

/**
 * Reads single-object encoded records with Apache Avro's own BinaryMessageDecoder, the writer
 * schema resolved by fingerprint from the .avsc files alone (args[0]: their directory).
 *
 * stdin: one "RecordName hexbytes" per line. stdout per line: the record re-encoded by Avro's
 * BinaryMessageEncoder (hex), a tab, the record as Avro prints it. Any record that cannot be
 * resolved or decoded ends the program with the exception.
 */
public class ReadSingleObject {
  public static void main(String[] args) throws Exception {
    Schema.Parser parser = new Schema.Parser();
    SchemaStore.Cache store = new SchemaStore.Cache();
    Map<String, Schema> byName = new HashMap<>();
    File[] files = new File(args[0]).listFiles((dir, name) -> name.endsWith(".avsc"));
    Arrays.sort(files); // observation.avsc before scored_observation.avsc, which names it
    for (File file : files) {
      Schema schema = parser.parse(file);
      store.addSchema(schema);
      byName.put(schema.getName(), schema);
    }
    HexFormat hex = HexFormat.of();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      String[] parts = line.split(" ");
      Schema reader = byName.get(parts[0]);
      BinaryMessageDecoder<GenericRecord> decoder = new BinaryMessageDecoder<>(GenericData.get(), reader, store);
      GenericRecord record = decoder.decode(hex.parseHex(parts[1]));
      ByteBuffer again = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), reader).encode(record);
      byte[] bytes = new byte[again.remaining()];
      again.get(bytes);
      System.out.println(hex.formatHex(bytes) + "\t" + record);
    }
  }
}
